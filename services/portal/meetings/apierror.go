package meetings

// HTTPStatus is the status a refusal answers with, so callers outside this package (the rooms
// management channel's join) can answer Join's refusals as the meetings API does.
func (e *apiError) HTTPStatus() int { return e.status }

// ErrorCode is the refusal's stable api.Error code (licence.full, router.unavailable, ...).
func (e *apiError) ErrorCode() string { return e.code }
