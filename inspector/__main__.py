"""`python -m inspector`: the command line."""

from inspector.faces.cli.start import main

if __name__ == "__main__":
    main()
