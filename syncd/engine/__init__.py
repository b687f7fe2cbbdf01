"""The generic engine: pull, merge, reconcile, push, schedule. It never names a vendor."""
