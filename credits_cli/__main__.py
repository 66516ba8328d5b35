from credits_cli.cli.app import main

main()
