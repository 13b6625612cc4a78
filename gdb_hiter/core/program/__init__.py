"""The program: which Go built it (ELF, .go.buildinfo, version rules) and its goroutines."""
