"""Map implementations: one MapImplementation per implementation (classic, Swiss), chosen once in implementations.py."""
