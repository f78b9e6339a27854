package keeper

import (
	"context"
	"errors"
	"net"
)

// saslAuth runs the SASL exchange on a fresh connection before anything
// else is sent.
func (c *Client) saslAuth(ctx context.Context, nc net.Conn, hp hostPort) error {
	return errors.New("keeper: SASL is not supported yet")
}
