import grpc
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.common import BasicAuthCallCredentials
def t(name, f):
    try:
        r = f(); print("OK", name, repr(r)[:200])
    except Exception as e:
        print("ERR", name, type(e).__name__, " ".join(str(e).split())[:300])
c = None
def mk():
    global c
    c = KurrentDBClient(uri="kurrentdb://admin:changeit@127.0.0.1:2223?tls=false")
    return c
t("construct", mk)
t("read", lambda: c.get_stream("x"))
t("append", lambda: c.append_to_stream("x", events=NewEvent(type="A", data=b"{}"), current_version=StreamState.ANY))
cred = grpc.metadata_call_credentials(BasicAuthCallCredentials("admin","changeit"))
t("read-percall", lambda: c.get_stream("x", credentials=cred))
a = KurrentDBClient(uri="kurrentdb://127.0.0.1:2223?tls=false")
t("anon read", lambda: a.get_stream("x"))
