"""Several server processes behind one listening socket (``workers`` above 1).

The supervisor (`supervisor`) binds the socket, opens the store and the seal, and starts
the workers (`worker`), each a full API server accepting connections on the inherited
socket. A worker reaches its supervisor over a private socket pair (`wire`, `link`): its
seal operations go there, so the server has one unseal progress and every worker is opened
or sealed together, and the events of its reads go there, so one writer appends the audit
trail for all of them. See docs/workers.md.
"""
