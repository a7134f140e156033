package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newAdminFrom(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// recordPrinter prints records by a kcat-like template or as JSON lines.
type recordPrinter struct {
	json  bool
	parts []fmtPart
}

// fmtPart is literal text or one %-verb of the template.
type fmtPart struct {
	lit  string
	verb byte
}

func newRecordPrinter(format string) (*recordPrinter, error) {
	switch format {
	case "json":
		return &recordPrinter{json: true}, nil
	case "table", "":
		format = `%v\n`
	}
	if !strings.Contains(format, "%") && !strings.Contains(format, `\`) {
		return nil, fmt.Errorf("unknown --format %q (want table, json or a template such as '%%k %%v\\n')", format)
	}
	var p recordPrinter
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.parts = append(p.parts, fmtPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if (c != '%' && c != '\\') || i+1 == len(format) {
			lit.WriteByte(c)
			continue
		}
		i++
		n := format[i]
		if c == '\\' {
			switch n {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(n)
			}
			continue
		}
		switch n {
		case '%':
			lit.WriteByte('%')
		case 't', 'p', 'o', 'T', 'k', 'v', 'h', 'K', 'S':
			flush()
			p.parts = append(p.parts, fmtPart{verb: n})
		default:
			return nil, fmt.Errorf("--format: unknown verb %%%c (want %%t %%p %%o %%T %%k %%v %%h %%K %%S)", n)
		}
	}
	flush()
	return &p, nil
}

// jsonRecord is one record of --format json.
type jsonRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp"`
	Key       *string           `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func (p *recordPrinter) print(w *bufio.Writer, r *kgo.Record) {
	if p.json {
		jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Timestamp: r.Timestamp.UnixMilli(), Value: string(r.Value)}
		if r.Key != nil {
			k := string(r.Key)
			jr.Key = &k
		}
		if len(r.Headers) > 0 {
			jr.Headers = map[string]string{}
			for _, h := range r.Headers {
				jr.Headers[h.Key] = string(h.Value)
			}
		}
		b, _ := json.Marshal(jr)
		w.Write(b)
		w.WriteByte('\n')
		return
	}
	for _, part := range p.parts {
		switch part.verb {
		case 0:
			w.WriteString(part.lit)
		case 't':
			w.WriteString(r.Topic)
		case 'p':
			w.WriteString(strconv.Itoa(int(r.Partition)))
		case 'o':
			w.WriteString(strconv.FormatInt(r.Offset, 10))
		case 'T':
			w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 'k':
			w.Write(r.Key)
		case 'v':
			w.Write(r.Value)
		case 'K':
			w.WriteString(strconv.Itoa(len(r.Key)))
		case 'S':
			w.WriteString(strconv.Itoa(len(r.Value)))
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		}
	}
}
