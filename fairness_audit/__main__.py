from fairness_audit.cli import main

main()
