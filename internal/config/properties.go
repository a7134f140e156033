package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// LoadProperties reads a Java .properties stream the way
// java.util.Properties.load does, which is how Kafka reads
// server.properties:
//
//   - a natural line ends at \n, \r or \r\n; leading blanks (space, tab,
//     form feed) of every natural line are skipped;
//   - a line whose first non-blank character is '#' or '!' is a comment
//     (a trailing backslash on a comment line does not continue it);
//   - a line ending in an odd number of backslashes continues on the next
//     natural line, whose leading blanks are dropped;
//   - the key ends at the first unescaped '=', ':' or blank; blanks around
//     the separator and at most one '=' or ':' are skipped; the rest of the
//     line is the value (trailing blanks are kept; Build trims them as
//     Kafka's ConfigDef does);
//   - escapes \t \n \r \f and \uXXXX are decoded, a backslash before any
//     other character stands for that character; a malformed \u escape is
//     an error.
//
// Unlike Java (ISO-8859-1), the stream is read as UTF-8. Later keys
// replace earlier ones.
func LoadProperties(r io.Reader) (map[string]string, error) {
	props := make(map[string]string)
	br := bufio.NewReader(r)
	lineNo := 0
	for {
		logical, first, eof, err := readLogicalLine(br, &lineNo)
		if err != nil {
			return nil, err
		}
		if logical != "" {
			k, v, err := splitKeyValue(logical)
			if err != nil {
				return nil, fmt.Errorf("properties line %d: %w", first, err)
			}
			props[k] = v
		}
		if eof {
			return props, nil
		}
	}
}

// readNatural reads one natural line without its terminator. It treats
// \r\n, \n and \r as terminators.
func readNatural(br *bufio.Reader) (string, bool, error) {
	var sb strings.Builder
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return sb.String(), true, nil
		}
		if err != nil {
			return "", false, err
		}
		switch c {
		case '\n':
			return sb.String(), false, nil
		case '\r':
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				_, _ = br.ReadByte()
			}
			return sb.String(), false, nil
		}
		sb.WriteByte(c)
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeadingBlanks(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether s ends in an odd number of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// readLogicalLine returns the next logical line (comments and blank lines
// come back as ""), the natural line number it starts on, and whether the
// stream ended.
func readLogicalLine(br *bufio.Reader, lineNo *int) (string, int, bool, error) {
	line, eof, err := readNatural(br)
	if err != nil {
		return "", 0, false, err
	}
	*lineNo++
	first := *lineNo
	line = trimLeadingBlanks(line)
	if line == "" || line[0] == '#' || line[0] == '!' {
		return "", first, eof, nil
	}
	var sb strings.Builder
	for continues(line) && !eof {
		sb.WriteString(line[:len(line)-1])
		line, eof, err = readNatural(br)
		if err != nil {
			return "", 0, false, err
		}
		*lineNo++
		line = trimLeadingBlanks(line)
	}
	if continues(line) {
		// A continuation at end of stream: Java drops the lone backslash.
		line = line[:len(line)-1]
	}
	sb.WriteString(line)
	return sb.String(), first, eof, nil
}

// splitKeyValue splits a logical line into its unescaped key and value.
func splitKeyValue(line string) (string, string, error) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			break
		}
		i++
	}
	i = min(i, len(line))
	rawKey := line[:i]
	rest := line[i:]
	rest = trimLeadingBlanks(rest)
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeadingBlanks(rest[1:])
	}
	key, err := unescape(rawKey)
	if err != nil {
		return "", "", err
	}
	val, err := unescape(rest)
	if err != nil {
		return "", "", err
	}
	return key, val, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch c = s[i]; c {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uxxxx encoding in %q`, s)
			}
			var r rune
			for _, h := range []byte(s[i+1 : i+5]) {
				var d byte
				switch {
				case h >= '0' && h <= '9':
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", fmt.Errorf(`malformed \uxxxx encoding in %q`, s)
				}
				r = r<<4 | rune(d)
			}
			sb.WriteRune(r)
			i += 4
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}
