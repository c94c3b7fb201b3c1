"""python -m tctcb.fuse --runs A B [C ...] --output OUT  (thin: see tctcb.fuse._cli)."""
import sys

from tctcb.fuse._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
