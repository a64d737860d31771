// Package userclient is the task service's client of the user service: the
// one connection to it, the token verification keys it publishes, and the
// task.UserDirectory answered by its BatchGetUsers.
package userclient

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcclient"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// CallTimeout bounds a call to the user service when the caller's deadline
// is later or absent.
const CallTimeout = 5 * time.Second

// Dial returns the one connection to the user service at addr for the life
// of the service (see grpcclient.Dial), with opts added: addr may name
// several replicas, balanced with health checks, the reads retried
// (grpcclient.ForService). Its calls wait for
// the connection (grpc.WaitForReady) within their deadline rather than fail
// at once while it reconnects; every call of this package therefore carries
// a deadline of at most CallTimeout.
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.WaitForReady(true)), grpcclient.ForService(userv1.UserService_ServiceDesc.ServiceName)}, opts...)
	conn, err := grpcclient.Dial(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("user service: %w", err)
	}
	return conn, nil
}

// FetchKeys returns a fetch function for auth.NewRemoteKeys that calls
// GetPublicKeys on client, within the caller's deadline and at most
// CallTimeout, and parses every key.
func FetchKeys(client userv1.UserServiceClient) func(ctx context.Context) ([]auth.PublicKey, error) {
	return func(ctx context.Context) ([]auth.PublicKey, error) {
		ctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		resp, err := client.GetPublicKeys(ctx, &userv1.GetPublicKeysRequest{})
		if err != nil {
			return nil, fmt.Errorf("GetPublicKeys: %w", err)
		}
		keys := make([]auth.PublicKey, 0, len(resp.GetKeys()))
		for _, p := range resp.GetKeys() {
			k, err := auth.ParseJWK(auth.JWK{Kid: p.GetKid(), Kty: p.GetKty(), Crv: p.GetCrv(), X: p.GetX(), Alg: p.GetAlg(), Use: p.GetUse()})
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		return keys, nil
	}
}

// Directory is the task.UserDirectory of the user service, asked over gRPC
// with the caller's access token and deadline.
type Directory struct {
	client userv1.UserServiceClient
}

var _ task.UserDirectory = (*Directory)(nil)

// NewDirectory returns a Directory that asks client, which should share one
// connection for the life of the service.
func NewDirectory(client userv1.UserServiceClient) *Directory {
	return &Directory{client: client}
}

// CheckAssignee asks the user service's BatchGetUsers whether user id exists
// and is active. The call carries the bearer token of ctx's incoming call
// and runs within ctx's deadline (at most CallTimeout), waiting for the
// connection while it (re)connects. It returns nil for an active user,
// task.ErrInvalidAssignee for an unknown or inactive one,
// task.ErrUserServiceUnavailable when the user service cannot be reached or
// does not answer in time, and ctx's error when the caller gave up.
func (d *Directory) CheckAssignee(ctx context.Context, id int64) error {
	token, ok := grpcauth.BearerToken(ctx)
	if !ok {
		return fmt.Errorf("check assignee %d: the call carries no bearer token to forward", id)
	}
	callCtx, cancel := context.WithTimeout(grpcauth.WithBearer(ctx, token), CallTimeout)
	defer cancel()
	resp, err := d.client.BatchGetUsers(callCtx, &userv1.BatchGetUsersRequest{Ids: []int64{id}}, grpc.WaitForReady(true))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check assignee %d: %w", id, ctx.Err())
		}
		if status.Code(err) == codes.DeadlineExceeded && callersDeadlineBinds(ctx, callCtx) {
			// gRPC can report the deadline (the server's grpc-timeout ran
			// out, or the transport's timer fired) before ctx's own timer
			// marks ctx done: the deadline was still the caller's.
			return fmt.Errorf("check assignee %d: %w", id, context.DeadlineExceeded)
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
			return fmt.Errorf("check assignee %d: %w (%v)", id, task.ErrUserServiceUnavailable, err)
		}
		return fmt.Errorf("check assignee %d: BatchGetUsers: %w", id, err)
	}
	for _, u := range resp.GetUsers() {
		if u.GetId() == id && u.GetIsActive() {
			return nil
		}
	}
	return fmt.Errorf("check assignee %d: %w", id, task.ErrInvalidAssignee)
}

// callersDeadlineBinds reports whether ctx, the caller's context, has a
// deadline no later than callCtx's, so that a deadline callCtx ran out of
// was the caller's and not CallTimeout.
func callersDeadlineBinds(ctx, callCtx context.Context) bool {
	caller, ok := ctx.Deadline()
	if !ok {
		return false
	}
	call, _ := callCtx.Deadline()
	return !caller.After(call)
}
