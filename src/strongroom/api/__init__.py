"""The HTTP API: thin routes over the node, RFC 9457 problems for every error."""
