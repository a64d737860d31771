// Package userapi is the gRPC transport of the user service: it implements
// todo.user.v1.UserService on top of package user, converting between proto
// and domain types (convert.go) and turning domain errors into gRPC status
// and the request's field paths in one place (errors.go). Who may call what
// is the domain's rule (user.Authorize): the handlers only pass the caller
// on. ClientAddr (clientaddr.go) works out the client address sign-ins are
// throttled by.
package userapi

import (
	"context"
	"log/slog"
	"net/netip"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/fieldbehavior"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// Server implements userv1.UserServiceServer.
type Server struct {
	userv1.UnimplementedUserServiceServer

	log     *slog.Logger
	svc     *user.Service
	keys    []auth.PublicKey
	proxies []netip.Prefix
	// outputOnly are the User fields only the server sets (the proto's
	// field_behavior), which an update mask may name without effect.
	outputOnly map[string]bool
}

// New returns a Server over svc. keys are the verification keys
// GetPublicKeys publishes (the signing key's first). trustedProxies are the
// peers whose x-forwarded-for metadata is believed when working out a
// client's address for sign-in throttling (see ClientAddr;
// ParseTrustedProxies reads them from a configuration).
func New(log *slog.Logger, svc *user.Service, keys []auth.PublicKey, trustedProxies []netip.Prefix) *Server {
	return &Server{log: log, svc: svc, keys: keys, proxies: trustedProxies,
		outputOnly: fieldbehavior.OutputOnly((&userv1.User{}).ProtoReflect().Descriptor())}
}

// Register registers s on gs.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	userv1.RegisterUserServiceServer(gs, s)
}

// PublicMethods are the full names of the methods callable without an access
// token, for grpcauth.UnaryServerInterceptor.
func PublicMethods() []string {
	return []string{
		userv1.UserService_CreateUser_FullMethodName,
		userv1.UserService_Login_FullMethodName,
		userv1.UserService_RefreshToken_FullMethodName,
		userv1.UserService_Logout_FullMethodName,
		userv1.UserService_GetPublicKeys_FullMethodName,
		userv1.UserService_VerifyEmail_FullMethodName,
		userv1.UserService_RequestPasswordReset_FullMethodName,
		userv1.UserService_ResetPassword_FullMethodName,
	}
}

// caller returns the authenticated caller; the auth interceptor puts a
// principal in the context of every non-public method.
func caller(ctx context.Context) (user.Caller, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return user.Caller{}, unauthenticated()
	}
	return user.Caller{UserID: p.UserID, Admin: p.Admin, ViaPAT: p.TokenID != 0}, nil
}

// CreateUser signs up a new account.
func (s *Server) CreateUser(ctx context.Context, req *userv1.CreateUserRequest) (*userv1.User, error) {
	u, err := s.svc.CreateUser(ctx, user.SignUp{
		Email:    req.GetEmail(),
		Username: req.GetUsername(),
		FullName: req.GetFullName(),
		Password: req.GetPassword(),
	}, s.ClientAddr(ctx))
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{Email: "email", Username: "username", Password: "password"})
	}
	return toProtoUser(u), nil
}

// Login exchanges credentials for tokens.
func (s *Server) Login(ctx context.Context, req *userv1.LoginRequest) (*userv1.LoginResponse, error) {
	tokens, u, err := s.svc.Login(ctx, req.GetLogin(), req.GetPassword(), s.ClientAddr(ctx))
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.LoginResponse{Tokens: toProtoTokens(tokens), User: toProtoUser(u)}, nil
}

// RefreshToken spends a refresh token for a new pair.
func (s *Server) RefreshToken(ctx context.Context, req *userv1.RefreshTokenRequest) (*userv1.RefreshTokenResponse, error) {
	tokens, err := s.svc.Refresh(ctx, req.GetRefreshToken())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.RefreshTokenResponse{Tokens: toProtoTokens(tokens)}, nil
}

// Logout revokes a refresh token's family.
func (s *Server) Logout(ctx context.Context, req *userv1.LogoutRequest) (*userv1.LogoutResponse, error) {
	if err := s.svc.Logout(ctx, req.GetRefreshToken()); err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.LogoutResponse{}, nil
}

// LogoutAll ends every sign-in of the caller.
func (s *Server) LogoutAll(ctx context.Context, _ *userv1.LogoutAllRequest) (*userv1.LogoutAllResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.LogoutAll(ctx, c); err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.LogoutAllResponse{}, nil
}

// GetPublicKeys returns the token verification keys.
func (s *Server) GetPublicKeys(context.Context, *userv1.GetPublicKeysRequest) (*userv1.GetPublicKeysResponse, error) {
	out := make([]*userv1.PublicKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, toProtoKey(k))
	}
	return &userv1.GetPublicKeysResponse{Keys: out}, nil
}

// GetUser returns a whole user to the user and admins, and the public
// profile of an active user to anyone else signed in.
func (s *Server) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.User, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, v, err := s.svc.User(ctx, c, req.GetId())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	if v == user.Public {
		return toPublicProfile(u), nil
	}
	return toProtoUser(u), nil
}

// GetCurrentUser returns the caller.
func (s *Server) GetCurrentUser(ctx context.Context, _ *userv1.GetCurrentUserRequest) (*userv1.User, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.CurrentUser(ctx, c)
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return toProtoUser(u), nil
}

// ListUsers pages through users; admins only.
func (s *Server) ListUsers(ctx context.Context, req *userv1.ListUsersRequest) (*userv1.ListUsersResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var active *bool
	if req.IsActive != nil {
		v := req.GetIsActive()
		active = &v
	}
	users, next, err := s.svc.ListUsers(ctx, c, active, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{PageSize: "page_size", PageToken: "page_token"})
	}
	out := make([]*userv1.User, len(users))
	for i, u := range users {
		out[i] = toProtoUser(u)
	}
	return &userv1.ListUsersResponse{Users: out, NextPageToken: next}, nil
}

// UpdateUser changes the masked fields of a user; the user and admins only.
func (s *Server) UpdateUser(ctx context.Context, req *userv1.UpdateUserRequest) (*userv1.User, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetUser().GetId()
	if id <= 0 {
		return nil, invalid("user.id", "must name the user to update")
	}
	u, err := s.svc.UpdateUser(ctx, c, id, toChange(req.GetUser(), req.GetUpdateMask(), s.outputOnly))
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{
			Email: "user.email", Username: "user.username", FullName: "user.full_name", Change: "update_mask",
		})
	}
	return toProtoUser(u), nil
}

// ChangePassword replaces the caller's own password.
func (s *Server) ChangePassword(ctx context.Context, req *userv1.ChangePasswordRequest) (*userv1.ChangePasswordResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.svc.ChangePassword(ctx, c, req.GetId(), req.GetCurrentPassword(), req.GetNewPassword(), s.ClientAddr(ctx))
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{Password: "new_password", CurrentPassword: "current_password"})
	}
	return &userv1.ChangePasswordResponse{}, nil
}

// DeactivateUser deactivates a user; admins only.
func (s *Server) DeactivateUser(ctx context.Context, req *userv1.DeactivateUserRequest) (*userv1.User, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.SetActive(ctx, c, req.GetId(), false)
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return toProtoUser(u), nil
}

// ActivateUser activates a user; admins only.
func (s *Server) ActivateUser(ctx context.Context, req *userv1.ActivateUserRequest) (*userv1.User, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.SetActive(ctx, c, req.GetId(), true)
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return toProtoUser(u), nil
}

// BatchGetUsers says which of the ids exist and are active; any signed-in
// caller (in practice, other services).
func (s *Server) BatchGetUsers(ctx context.Context, req *userv1.BatchGetUsersRequest) (*userv1.BatchGetUsersResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sums, err := s.svc.Summaries(ctx, c, req.GetIds())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	out := make([]*userv1.UserSummary, len(sums))
	for i, su := range sums {
		out[i] = &userv1.UserSummary{Id: su.ID, Username: su.Username, IsActive: su.IsActive}
	}
	return &userv1.BatchGetUsersResponse{Users: out}, nil
}

// toChange turns the request user and mask into a domain Change: the mask's
// paths are the domain's field names, checked by the domain. An absent or
// empty mask means the fields given with a non-empty value (so nothing is
// cleared by omission; clear full_name with an explicit mask). "*" means
// every changeable field. Paths naming output-only fields are ignored
// (AIP-203): a client may send back the whole user it read, and the REST
// gateway derives the mask from the body's keys.
func toChange(u *userv1.User, mask *fieldmaskpb.FieldMask, outputOnly map[string]bool) user.Change {
	ch := user.Change{FullName: u.GetFullName(), Username: u.GetUsername(), Email: u.GetEmail()}
	paths := mask.GetPaths()
	if len(paths) == 0 {
		given := map[string]bool{user.FieldFullName: ch.FullName != "", user.FieldUsername: ch.Username != "", user.FieldEmail: ch.Email != ""}
		for _, f := range user.ChangeableFields() {
			if given[f] {
				ch.Fields = append(ch.Fields, f)
			}
		}
		return ch
	}
	for _, p := range paths {
		if p == "*" {
			ch.Fields = append(ch.Fields, user.ChangeableFields()...)
			continue
		}
		if outputOnly[p] {
			continue
		}
		ch.Fields = append(ch.Fields, p)
	}
	return ch
}

// ListUserAuditEvents pages through the audit log; admins only.
func (s *Server) ListUserAuditEvents(ctx context.Context, req *userv1.ListUserAuditEventsRequest) (*userv1.ListUserAuditEventsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := auditFilterFromProto(req)
	if err != nil {
		return nil, err
	}
	events, next, err := s.svc.ListUserAuditEvents(ctx, c, f, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{PageSize: "page_size", PageToken: "page_token"})
	}
	out := make([]*userv1.UserAuditEvent, len(events))
	for i, e := range events {
		out[i] = auditEventToProto(e)
	}
	return &userv1.ListUserAuditEventsResponse{Events: out, NextPageToken: next}, nil
}
