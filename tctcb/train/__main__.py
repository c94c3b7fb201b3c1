"""python -m tctcb.train teacher|distill ...  (thin: parses nothing itself, calls main)."""
import sys

from tctcb.train._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
