"""How the workbench starts a notebook kernel for papermill (run-cycle, filing).

The kernel listens on 127.0.0.1 only, for the one notebook the command executes; ipykernel 7 nevertheless warns
on every start that its TCP transport is unencrypted, which a billing manager would read as a problem with
the run. Its log level is raised to errors, so a kernel that fails still says why.
"""

#: ``extra_arguments`` for ``papermill.execute_notebook`` (passed on to the kernel's command line)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
