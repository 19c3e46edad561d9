package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stile-dev/stile/internal/errs"
)

// Client calls the stile API at Base (no trailing slash) with Token, over
// HTTP. Its methods send JSON and turn an error response into a
// *ResponseError; a server that cannot be reached is an error that says
// where it looked.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// ResponseError is an error response of the API: the server's Error and,
// in Detail, the partial result it carried, if any.
type ResponseError struct {
	Code    errs.Code
	Message string
	Detail  json.RawMessage
}

// Error is the server's message.
func (e *ResponseError) Error() string { return e.Message }

// Call sends in (nil for no body) as JSON and decodes the JSON answer into
// out (nil to discard it). An error response is a *ResponseError whose
// Detail DecodeDetail reads.
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.Do(ctx, method, path, in, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
	}
	return nil
}

// Stream sends in as JSON and asks for an answer of one JSON object per
// line (NDJSON), calling line with each as it arrives. An error from line
// stops it and is returned.
func (c *Client) Stream(ctx context.Context, method, path string, in any, line func([]byte) error) error {
	resp, err := c.Do(ctx, method, path, in, "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := line(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read response: %w", UnwrapURLError(err))
	}
	return nil
}

// Do sends in as JSON, accepting accept, and returns a successful response
// for the caller to read and close; an error response is a *ResponseError
// (or, when its body is not the API's error shape, an error naming the
// status).
func (c *Client) Do(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach stile server at %s: %w", c.Base, UnwrapURLError(err))
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return nil, parseResponseError(resp.Status, data)
}

// parseResponseError reads an error response's body: {"error": Error,
// "detail"?}, the shape the server's one error path writes.
func parseResponseError(status string, data []byte) error {
	var eb struct {
		Error  Error           `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
		return fmt.Errorf("stile server: %s", status)
	}
	return &ResponseError{Code: eb.Error.Code, Message: eb.Error.Message, Detail: eb.Detail}
}

// UnwrapURLError drops net/http's *url.Error wrapping (which repeats the
// method and URL) from err.
func UnwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// DecodeDetail decodes a *ResponseError's detail into v; it reports
// whether it did (false for another error, a wrapped one included, or no
// detail).
func DecodeDetail(err error, v any) bool {
	re, ok := err.(*ResponseError)
	if !ok || len(re.Detail) == 0 || string(re.Detail) == "null" {
		return false
	}
	return json.Unmarshal(re.Detail, v) == nil
}
