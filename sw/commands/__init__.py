"""One module per `eiegen` subcommand.

Each module defines NAME (the subcommand), HELP (one line), add_arguments(parser)
and run(args) -> int. The CLI discovers them; adding a subcommand is adding a file.
"""
