"""Development helpers shared by scripts/ and tests/: toolchains and fixture builds.

Standard library only: these run before the project's virtualenv exists.
"""
