package taskapi

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// statusToProto converts a domain status (UNSPECIFIED for an unknown one,
// which the database's CHECK constraint rules out).
func statusToProto(s task.Status) taskv1.TaskStatus {
	switch s {
	case task.StatusPending:
		return taskv1.TaskStatus_TASK_STATUS_PENDING
	case task.StatusInProgress:
		return taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS
	case task.StatusCompleted:
		return taskv1.TaskStatus_TASK_STATUS_COMPLETED
	}
	return taskv1.TaskStatus_TASK_STATUS_UNSPECIFIED
}

// priorityToProto converts a domain priority (UNSPECIFIED for an unknown
// one, which the database's CHECK constraint rules out).
func priorityToProto(p task.Priority) taskv1.TaskPriority {
	switch p {
	case task.PriorityLow:
		return taskv1.TaskPriority_TASK_PRIORITY_LOW
	case task.PriorityMedium:
		return taskv1.TaskPriority_TASK_PRIORITY_MEDIUM
	case task.PriorityHigh:
		return taskv1.TaskPriority_TASK_PRIORITY_HIGH
	case task.PriorityUrgent:
		return taskv1.TaskPriority_TASK_PRIORITY_URGENT
	}
	return taskv1.TaskPriority_TASK_PRIORITY_UNSPECIFIED
}

// statusFromProto converts a status; UNSPECIFIED is "" and an undefined
// number is an InvalidArgument naming field.
func statusFromProto(s taskv1.TaskStatus, field string) (task.Status, error) {
	switch s {
	case taskv1.TaskStatus_TASK_STATUS_UNSPECIFIED:
		return "", nil
	case taskv1.TaskStatus_TASK_STATUS_PENDING:
		return task.StatusPending, nil
	case taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS:
		return task.StatusInProgress, nil
	case taskv1.TaskStatus_TASK_STATUS_COMPLETED:
		return task.StatusCompleted, nil
	}
	return "", invalid(field, fmt.Sprintf("unknown status %d", s))
}

// priorityFromProto converts a priority; UNSPECIFIED is "" and an undefined
// number is an InvalidArgument naming field.
func priorityFromProto(p taskv1.TaskPriority, field string) (task.Priority, error) {
	switch p {
	case taskv1.TaskPriority_TASK_PRIORITY_UNSPECIFIED:
		return "", nil
	case taskv1.TaskPriority_TASK_PRIORITY_LOW:
		return task.PriorityLow, nil
	case taskv1.TaskPriority_TASK_PRIORITY_MEDIUM:
		return task.PriorityMedium, nil
	case taskv1.TaskPriority_TASK_PRIORITY_HIGH:
		return task.PriorityHigh, nil
	case taskv1.TaskPriority_TASK_PRIORITY_URGENT:
		return task.PriorityUrgent, nil
	}
	return "", invalid(field, fmt.Sprintf("unknown priority %d", p))
}

// timeFromProto converts an optional timestamp (nil stays nil); an
// out-of-range one is an InvalidArgument naming field.
func timeFromProto(ts *timestamppb.Timestamp, field string) (*time.Time, error) {
	if ts == nil {
		return nil, nil
	}
	if err := ts.CheckValid(); err != nil {
		return nil, invalid(field, "not a valid timestamp")
	}
	t := ts.AsTime()
	return &t, nil
}

func timeToProto(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// toProto converts a domain task.
func toProto(t task.Task) *taskv1.Task {
	return &taskv1.Task{
		Id:          t.ID,
		Title:       t.Title,
		Description: t.Description,
		Status:      statusToProto(t.Status),
		Priority:    priorityToProto(t.Priority),
		DueDate:     timeToProto(t.DueDate),
		CreatedBy:   t.CreatedBy,
		AssignedTo:  assigneeToProto(t.AssignedTo),
		CreatedAt:   timestamppb.New(t.CreatedAt),
		UpdatedAt:   timestamppb.New(t.UpdatedAt),
		CompletedAt: timeToProto(t.CompletedAt),
		Etag:        t.Etag(),
		DeletedAt:   timeToProto(t.DeletedAt),
	}
}

// assigneeToProto is the optional assigned_to: unset for nobody (0).
func assigneeToProto(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// newTaskFromProto reads the fields of a CreateTask's task.
func newTaskFromProto(p *taskv1.Task) (task.NewTask, error) {
	status, err := statusFromProto(p.GetStatus(), "task.status")
	if err != nil {
		return task.NewTask{}, err
	}
	priority, err := priorityFromProto(p.GetPriority(), "task.priority")
	if err != nil {
		return task.NewTask{}, err
	}
	due, err := timeFromProto(p.GetDueDate(), "task.due_date")
	if err != nil {
		return task.NewTask{}, err
	}
	return task.NewTask{Title: p.GetTitle(), Description: p.GetDescription(), Status: status, Priority: priority, DueDate: due}, nil
}

// patchFromProto reads an UpdateTask. An empty or absent mask means the
// fields of p that are set (non-empty strings, specified enums, a due
// date); "*" means every field an update may change. Mask paths naming the
// etag or an output-only field are ignored (AIP-134/203: a client may send
// back the whole task it read, and the REST gateway derives the mask from
// the body's keys); any other path outside title, description, status,
// priority and due_date is an InvalidArgument naming update_mask.
func patchFromProto(p *taskv1.Task, mask *fieldmaskpb.FieldMask, ignored map[string]bool) (task.Patch, error) {
	if p.GetId() <= 0 {
		return task.Patch{}, invalid("task.id", "must be the id of the task to update")
	}
	var fields task.Fields
	if len(mask.GetPaths()) == 0 {
		if p.GetTitle() != "" {
			fields = fields.With(task.FieldTitle)
		}
		if p.GetDescription() != "" {
			fields = fields.With(task.FieldDescription)
		}
		if p.GetStatus() != taskv1.TaskStatus_TASK_STATUS_UNSPECIFIED {
			fields = fields.With(task.FieldStatus)
		}
		if p.GetPriority() != taskv1.TaskPriority_TASK_PRIORITY_UNSPECIFIED {
			fields = fields.With(task.FieldPriority)
		}
		if p.GetDueDate() != nil {
			fields = fields.With(task.FieldDueDate)
		}
	}
	for _, path := range mask.GetPaths() {
		if path == "*" {
			fields = allFields
			continue
		}
		if ignored[path] {
			continue
		}
		f, ok := task.FieldByPath(path)
		if !ok {
			return task.Patch{}, invalid("update_mask", fmt.Sprintf("unknown path %q; the paths are title, description, status, priority and due_date", path))
		}
		fields = fields.With(f)
	}
	status, err := statusFromProto(p.GetStatus(), "task.status")
	if err != nil {
		return task.Patch{}, err
	}
	if fields.Has(task.FieldStatus) && status == "" {
		return task.Patch{}, invalid("task.status", "must be specified when update_mask names status")
	}
	priority, err := priorityFromProto(p.GetPriority(), "task.priority")
	if err != nil {
		return task.Patch{}, err
	}
	if fields.Has(task.FieldPriority) && priority == "" {
		return task.Patch{}, invalid("task.priority", "must be specified when update_mask names priority")
	}
	due, err := timeFromProto(p.GetDueDate(), "task.due_date")
	if err != nil {
		return task.Patch{}, err
	}
	return task.Patch{
		ID:          p.GetId(),
		Fields:      fields,
		Title:       p.GetTitle(),
		Description: p.GetDescription(),
		Status:      status,
		Priority:    priority,
		DueDate:     due,
		If:          task.IfEtag(p.GetEtag()),
	}, nil
}

// allFields is what the "*" mask path names.
const allFields = task.Fields(task.FieldTitle | task.FieldDescription | task.FieldStatus | task.FieldPriority | task.FieldDueDate)

// listRequestFromProto reads a ListTasks request.
func listRequestFromProto(r *taskv1.ListTasksRequest) (task.ListRequest, error) {
	var f task.Filter
	for _, s := range r.GetStatus() {
		st, err := statusFromProto(s, "status")
		if err != nil {
			return task.ListRequest{}, err
		}
		if st == "" {
			return task.ListRequest{}, invalid("status", "TASK_STATUS_UNSPECIFIED is not a status to filter by; give TASK_STATUS_PENDING, TASK_STATUS_IN_PROGRESS or TASK_STATUS_COMPLETED")
		}
		f.Statuses = append(f.Statuses, st)
	}
	for _, p := range r.GetPriority() {
		pr, err := priorityFromProto(p, "priority")
		if err != nil {
			return task.ListRequest{}, err
		}
		if pr == "" {
			return task.ListRequest{}, invalid("priority", "TASK_PRIORITY_UNSPECIFIED is not a priority to filter by; give TASK_PRIORITY_LOW, TASK_PRIORITY_MEDIUM, TASK_PRIORITY_HIGH or TASK_PRIORITY_URGENT")
		}
		f.Priorities = append(f.Priorities, pr)
	}
	if r.AssignedTo != nil {
		v := r.GetAssignedTo()
		f.AssignedTo = &v
	}
	if r.CreatedBy != nil {
		v := r.GetCreatedBy()
		f.CreatedBy = &v
	}
	var err error
	if f.DueBefore, err = timeFromProto(r.GetDueBefore(), "due_before"); err != nil {
		return task.ListRequest{}, err
	}
	if f.DueAfter, err = timeFromProto(r.GetDueAfter(), "due_after"); err != nil {
		return task.ListRequest{}, err
	}
	if f.UpdatedAfter, err = timeFromProto(r.GetUpdatedAfter(), "updated_after"); err != nil {
		return task.ListRequest{}, err
	}
	f.ShowDeleted = r.GetShowDeleted()
	lr := task.ListRequest{Filter: f, OrderBy: r.GetOrderBy(), PageSize: int(r.GetPageSize()), PageToken: r.GetPageToken()}
	if r.Q != nil {
		q := r.GetQ()
		lr.Search = &q
	}
	return lr, nil
}

// statsToProto converts dashboard statistics.
func statsToProto(s task.Stats) *taskv1.GetTaskStatsResponse {
	out := &taskv1.GetTaskStatsResponse{Total: s.Total, Overdue: s.Overdue, Counts: make([]*taskv1.TaskCount, len(s.Counts))}
	for i, c := range s.Counts {
		out.Counts[i] = &taskv1.TaskCount{Status: statusToProto(c.Status), Priority: priorityToProto(c.Priority), Count: c.N}
	}
	return out
}

// invalid is an InvalidArgument naming one field.
func invalid(field, description string) error {
	fv := grpcerr.FieldViolation{Field: field, Description: description}
	return grpcerr.InvalidArgument(grpcerr.Message(fv), fv)
}
