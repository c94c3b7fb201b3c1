"""python -m tctcb.search ...  (thin: parses arguments in tctcb.search._cli.main)."""
import sys

from tctcb.search._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
