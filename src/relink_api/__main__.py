from relink_api.cli.main import main

main()
