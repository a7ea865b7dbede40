from retweetctl.cli import main

# The guard keeps load's parse workers (forkserver children import __main__) from running the CLI.
if __name__ == "__main__":
    main()
