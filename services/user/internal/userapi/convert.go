package userapi

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// toProtoUser converts a whole user. There is no password field to fill:
// hashes never leave the business layer.
func toProtoUser(u user.User) *userv1.User {
	return &userv1.User{
		Id:         u.ID,
		Email:      &u.Email,
		Username:   u.Username,
		FullName:   u.FullName,
		IsActive:   &u.IsActive,
		IsVerified: &u.IsVerified,
		IsAdmin:    &u.IsAdmin,
		CreatedAt:  timestamppb.New(u.CreatedAt),
		UpdatedAt:  timestamppb.New(u.UpdatedAt),
	}
}

// toPublicProfile converts the public part of a user: id, username and
// full_name.
func toPublicProfile(u user.User) *userv1.User {
	return &userv1.User{Id: u.ID, Username: u.Username, FullName: u.FullName}
}

// toProtoTokens converts a token pair; access tokens are bearer tokens.
func toProtoTokens(t user.Tokens) *userv1.TokenPair {
	return &userv1.TokenPair{
		AccessToken:            t.AccessToken,
		TokenType:              "Bearer",
		AccessTokenExpireTime:  timestamppb.New(t.AccessExpires),
		RefreshToken:           t.RefreshToken,
		RefreshTokenExpireTime: timestamppb.New(t.RefreshExpires),
	}
}

// toProtoKey returns k as the JWK GetPublicKeys publishes.
func toProtoKey(k auth.PublicKey) *userv1.PublicKey {
	j := k.JWK()
	return &userv1.PublicKey{Kid: j.Kid, Kty: j.Kty, Crv: j.Crv, X: j.X, Alg: j.Alg, Use: j.Use}
}
