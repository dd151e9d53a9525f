from reconloss.cli import main

main()
