"""Rendering: Go types, values as %#v prints them, type descriptors, the hmap-show document."""
