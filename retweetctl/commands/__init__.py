"""One module per command group: each parses its options, calls the library, and words the result."""
