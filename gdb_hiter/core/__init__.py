"""The pure core: nothing here may import ``gdb``."""
