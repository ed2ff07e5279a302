from pruneaudit.cli import main

main()
