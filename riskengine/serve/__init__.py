"""The HTTP API, officer's pages, memo, audit and security (shell)."""
