-- wrk script for the ingest scenario: POST /taskschedulizer of a far-future task, so that
-- nothing runs while it is measured. The same request goes to the minimal RESTinio baseline.
wrk.method = "POST"
wrk.body = '{"task":"true","time":"2999-01-01T00:00:00Z"}'
wrk.headers["Content-Type"] = "application/json"
