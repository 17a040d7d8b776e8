# Offline stand-in for the get-pip bootstrap script that ansible-test downloads
# from the internet (unreachable here). scripts/sanity.sh installs it as
# ~/.ansible/test/cache/get_pip_<version>.py, next to a pip wheel fetched from
# PyPI. It installs pip from that wheel, using the wheel itself as the installer,
# and ignores the get-pip-only flags --no-setuptools / --no-wheel.
import glob
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
wheels = sorted(glob.glob(os.path.join(here, "pip-*.whl")))
if not wheels:
    sys.exit("get-pip stand-in: no pip wheel next to %s; run scripts/sanity.sh" % here)
sys.path.insert(0, wheels[-1])
from pip._internal.cli.main import main as pip_main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(pip_main(["install", "--find-links", here] + args))
