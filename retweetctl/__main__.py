from retweetctl.cli import main

main()
