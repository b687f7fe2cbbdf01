"""syncd: a bidirectional sync engine between quoting SaaS vendors and one SQL mirror."""

__version__ = "0.1.0"
