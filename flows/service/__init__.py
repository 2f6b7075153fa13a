"""The HTTP service (`heygem serve`): HeyGem's `/easy/submit` + `/easy/query` and our `/v1/jobs`.

app.py      the app factory: routes, the token rule, a log line per request, /healthz, /metrics
easy.py     HeyGem's API field for field (always HTTP 200, its result codes; never "busy")
v1.py       /v1/jobs: submit (JSON or multipart), get, list, video (range requests), cancel/delete
jobs.py     submit, view and cancel jobs over the shared queue (`heygem_flows.jobs_queue`), single-job
            runner (`heygem_flows.single_job`) and results dataset
table.py    the durable job table (SQLite in HEYGEM_HOME/service): every job ends exactly once
inputs.py   paths under HEYGEM_DATA_ROOT and http(s) URLs, fetched within limits, checked by content
context.py  folders and shared objects of one running app
metrics.py  Prometheus text: jobs by state, queue length, stage seconds, device, requests
errors.py   JSON errors with a type, an actionable message and the right status
"""
