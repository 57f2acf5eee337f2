"""``python -m loadtests.faults --fault kill-redis@1.5s`` = ``hongbao faults`` (until registered)."""
import argparse
import sys

from hongbao.harness.commands import faults

parser = argparse.ArgumentParser(prog="python -m loadtests.faults", description=faults.HELP)
faults.add_arguments(parser)
sys.exit(faults.run(parser.parse_args()))
