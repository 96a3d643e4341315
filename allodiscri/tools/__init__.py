"""The `allodiscri` command and the document generators: the top layer, free to use services."""
