"""The design wing: studies over the whole customer base on the engine (today the NEM 2.0 vs 3.0 study)."""
