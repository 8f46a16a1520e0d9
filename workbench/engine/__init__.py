"""The billing engine, scan once and price many: interval series, schedules, determinants, pricing, bills.

``determinants.scan`` reads every interval once into per-period determinants; ``pricing.price`` turns
determinants into line items and can be re-run under changed rates without touching interval data again;
``bills.bills_for_meter`` rounds them into bills that add up; ``cube`` is the xarray layer over the same
kernel for a whole interval cube. Net metering (``workbench.nem``) settles on these determinants, and bill
runs (``workbench.billing``) orchestrate both.
"""
