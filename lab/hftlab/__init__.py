"""hftlab: the QEMU test node of the quantbot.hft collection."""

__version__ = "0.1.0"
