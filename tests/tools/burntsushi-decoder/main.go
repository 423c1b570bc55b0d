// burntsushi-decoder: the decoder side of the toml-test protocol, with the
// TOML package GitLab Runner itself reads config.toml with
// (github.com/BurntSushi/toml; Debian: golang-github-burntsushi-toml-dev).
//
//	burntsushi-decoder [FILE] < TOML
//
// TOML from FILE (or stdin) -> the same tagged JSON as
// tests/compliance/toml-decoder on stdout, exit 0; or, for a document the
// package refuses, its error on stderr and exit 1 (nothing on stdout). Any
// other trouble (a read error, a type it cannot tag) exits 2.
//
// Built in GOPATH mode, offline, from /usr/share/gocode (tests/tools/
// meson.build); the tests use it as a second judge (docs/reliability.md).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

func tag(t, v string) map[string]interface{} {
	return map[string]interface{}{"type": t, "value": v}
}

// tagged is BurntSushi's own internal/tag.Add, which a program outside the
// module cannot import: its local date/time zones are told apart by name.
func tagged(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			t, err := tagged(e)
			if err != nil {
				return nil, err
			}
			out[k] = t
		}
		return out, nil
	case []map[string]interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			t, err := tagged(e)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			t, err := tagged(e)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	case time.Time:
		switch x.Location().String() {
		case "datetime-local":
			return tag("datetime-local", x.Format("2006-01-02T15:04:05.999999999")), nil
		case "date-local":
			return tag("date-local", x.Format("2006-01-02")), nil
		case "time-local":
			return tag("time-local", x.Format("15:04:05.999999999")), nil
		}
		return tag("datetime", x.Format("2006-01-02T15:04:05.999999999Z07:00")), nil
	case bool:
		return tag("bool", strconv.FormatBool(x)), nil
	case string:
		return tag("string", x), nil
	case int64:
		return tag("integer", strconv.FormatInt(x, 10)), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return tag("float", "nan"), nil
		case math.IsInf(x, 1):
			return tag("float", "inf"), nil
		case math.IsInf(x, -1):
			return tag("float", "-inf"), nil
		}
		return tag("float", strconv.FormatFloat(x, 'g', -1, 64)), nil
	}
	return nil, fmt.Errorf("value of Go type %T", v)
}

func main() {
	var in io.Reader = os.Stdin
	name := "<stdin>"
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: burntsushi-decoder [FILE]")
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "burntsushi-decoder:", err)
			os.Exit(2)
		}
		defer f.Close()
		in, name = f, os.Args[1]
	}
	data, err := io.ReadAll(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burntsushi-decoder:", name+":", err)
		os.Exit(2)
	}
	var doc map[string]interface{}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if doc == nil {
		doc = map[string]interface{}{}
	}
	t, err := tagged(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burntsushi-decoder: cannot tag", err)
		os.Exit(2)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		fmt.Fprintln(os.Stderr, "burntsushi-decoder:", err)
		os.Exit(2)
	}
	if _, err := os.Stdout.Write(out.Bytes()); err != nil {
		os.Exit(2)
	}
}
