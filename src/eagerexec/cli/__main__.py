"""``python -m eagerexec.cli``: the ``eager`` command without its console script."""

from . import main

if __name__ == "__main__":
    main(prog_name="eager")
