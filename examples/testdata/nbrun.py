"""Execute a notebook with Debian's nbclient and validate it with nbformat.

Usage: nbrun.py IN.ipynb OUT.ipynb
Environment: FLOWLAB_KERNEL_NAME (the kernelspec to use), JUPYTER_PATH.
Writes the executed notebook even when a cell fails, then exits 1 naming the
cell; exits 2 when the result does not validate.
"""

import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main():
    src, out = sys.argv[1], sys.argv[2]
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=os.environ.get("FLOWLAB_KERNEL_NAME", "flowlab-go"),
        timeout=int(os.environ.get("FLOWLAB_CELL_TIMEOUT", "300")),
        startup_timeout=60,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = e
    nbformat.write(nb, out)
    try:
        nbformat.validate(nbformat.read(out, as_version=4))
    except nbformat.ValidationError as e:
        print(f"{out}: does not validate: {e}", file=sys.stderr)
        sys.exit(2)
    if failed is not None:
        print(f"{src}: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
