"""The command line the e2e check scripts share: --moec, --models (the path
of test/models/moe_models.py), --out and the cases, plus each script's own
options; and the moe_models module imported from --models."""

import argparse
import os
import sys


def parse(doc, add_options=None):
    """(args, moe_models) for a script whose docstring is `doc`;
    `add_options(parser)` adds the script's own options."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--moec", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    if add_options:
        add_options(ap)
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(args.models))
    import moe_models
    return args, moe_models
