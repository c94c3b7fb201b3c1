"""python -m tctcb.reproduce ...  (thin: see tctcb.reproduce._cli)."""
import sys

from tctcb.reproduce._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
