package task

// DryRun returns a Service whose writes do everything the writes of s do
// (validation, authorization, the etag condition, the assignee lookup, the
// request_id check, the database's own constraints and triggers) and then
// commit nothing: the validate_only of AIP-163. Its results are what s
// would have returned; a create of a new task has ID 0. It counts no
// metrics.
func (s *Service) DryRun() *Service {
	d := *s
	d.store = s.store.DryRun()
	d.metrics = Metrics{}
	return &d
}
