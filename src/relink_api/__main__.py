from relink_api.cli import main

main()
