package taskapi

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

func sampleTask() task.Task {
	due := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	done := time.Date(2029, 1, 2, 3, 4, 5, 0, time.UTC)
	return task.Task{
		ID: 42, Title: "write the report", Description: "with figures", Status: task.StatusCompleted,
		Priority: task.PriorityUrgent, DueDate: &due, CreatedBy: 7, AssignedTo: 8,
		CreatedAt: done.Add(-time.Hour), UpdatedAt: done, CompletedAt: &done, Version: 3,
	}
}

func TestConvertRoundTrip(t *testing.T) {
	for _, s := range task.Statuses() {
		got, err := statusFromProto(statusToProto(s), "f")
		if err != nil || got != s {
			t.Errorf("status %s round trip: %s, %v", s, got, err)
		}
	}
	for _, p := range task.Priorities() {
		got, err := priorityFromProto(priorityToProto(p), "f")
		if err != nil || got != p {
			t.Errorf("priority %s round trip: %s, %v", p, got, err)
		}
	}
	tk := sampleTask()
	pb := toProto(tk)
	n, err := newTaskFromProto(pb)
	if err != nil || n.Title != tk.Title || n.Description != tk.Description || n.Status != tk.Status || n.Priority != tk.Priority || !n.DueDate.Equal(*tk.DueDate) {
		t.Errorf("newTaskFromProto(toProto(t)) = %+v, %v", n, err)
	}
	if pb.GetEtag() != tk.Etag() || pb.GetAssignedTo() != 8 || !pb.GetCompletedAt().AsTime().Equal(*tk.CompletedAt) {
		t.Errorf("toProto = %v", pb)
	}
	if _, err := timeFromProto(&timestamppb.Timestamp{Seconds: 1 << 62}, "due_before"); err == nil {
		t.Error("an out-of-range timestamp was accepted")
	}
}

func BenchmarkToProto(b *testing.B) {
	tk := sampleTask()
	for b.Loop() {
		_ = toProto(tk)
	}
}

func BenchmarkNewTaskFromProto(b *testing.B) {
	pb := toProto(sampleTask())
	for b.Loop() {
		if _, err := newTaskFromProto(pb); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPatchFromProto(b *testing.B) {
	pb := toProto(sampleTask())
	mask := &fieldmaskpb.FieldMask{Paths: []string{"title", "status", "due_date"}}
	for b.Loop() {
		if _, err := patchFromProto(pb, mask, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListRequestFromProto(b *testing.B) {
	req := &taskv1.ListTasksRequest{
		PageSize: 100, OrderBy: "due_date desc",
		Status:     []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_PENDING, taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS},
		AssignedTo: proto.Int64(7), DueBefore: timestamppb.Now(),
	}
	for b.Loop() {
		if _, err := listRequestFromProto(req); err != nil {
			b.Fatal(err)
		}
	}
}
