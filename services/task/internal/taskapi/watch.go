package taskapi

import (
	"fmt"
	"time"

	"google.golang.org/grpc"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// DefaultWatchSendTimeout is how long one message of WatchTasks may wait
// for the client to make room (HTTP/2 flow control) before the watch is cut
// off as too slow, unless SetWatchSendTimeout says otherwise.
const DefaultWatchSendTimeout = 30 * time.Second

// SetWatchSendTimeout sets how long one message of WatchTasks may wait for
// the client. Call it before s serves.
func (s *Server) SetWatchSendTimeout(d time.Duration) { s.watchSendTimeout = d }

// WatchTasks streams the caller's change feed.
func (s *Server) WatchTasks(req *taskv1.WatchTasksRequest, stream grpc.ServerStreamingServer[taskv1.WatchTasksResponse]) error {
	ctx := stream.Context()
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	timeout := s.watchSendTimeout
	if timeout <= 0 {
		timeout = DefaultWatchSendTimeout
	}
	err = s.svc.Watch(ctx, c, req.GetSince(), func(ev task.WatchEvent) error {
		msg := &taskv1.WatchTasksResponse{Token: ev.Token}
		if ev.Change != nil {
			msg.Change = ChangeToProto(*ev.Change)
		}
		return sendWithin(stream, msg, timeout)
	})
	if err != nil {
		return s.status(ctx, err)
	}
	return nil
}

// sendWithin sends msg, or gives up with task.ErrSlowConsumer when the
// client has not made room for it within timeout. The memory a watcher
// holds is then bounded by the transport's flow-control window and the one
// page of the feed being sent. A send that is given up on is left to end
// with the stream, which the handler's return ends; no other send starts
// meanwhile.
func sendWithin(stream grpc.ServerStreamingServer[taskv1.WatchTasksResponse], msg *taskv1.WatchTasksResponse, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- stream.Send(msg) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	case <-t.C:
		return task.ErrSlowConsumer
	}
}
