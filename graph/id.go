package graph

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
)

// NewID returns a random 15-digit numeric id, the shape of Graph object
// ids (businesses, WABAs, phone numbers, templates, media).
func NewID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9e14))
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return strconv.FormatInt(n.Int64()+1e14, 10), nil
}
