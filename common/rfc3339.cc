// FormatRfc3339 and ParseRfc3339 (rfc3339.h), on std::chrono's civil
// calendar rather than gmtime_r/timegm: no time zone state, no
// normalising of impossible dates, and the formatter is a visible share
// of a GET's CPU time otherwise.
#include "common/rfc3339.h"

#include <chrono>

namespace casmem {

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseRfc3339(std::string_view s, int64_t* ms) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return false;
  }
  using namespace std::chrono;
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (s[i] == '.') {
    size_t n = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
      if (n < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
    }
    if (n == 0 || n > 9) return false;
    for (; n < 3; ++n) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  const int64_t days_since = sys_days(ymd).time_since_epoch().count();
  *ms = ((days_since * 24 + h) * 60 + mi - offset_min) * 60'000 + int64_t{sec} * 1000 + frac_ms;
  return true;
}


// The civil date of the day number, then fixed-width digits.
std::string FormatRfc3339(int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const int64_t in_day = (t - day).count();  // 0 .. 86'399'999
  char buf[32];
  char* p = buf;
  auto digits = [&p](int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  int year = static_cast<int>(ymd.year());
  if (year < 0) {  // never for a stored time; kept well-formed anyway
    *p++ = '-';
    year = -year;
  }
  digits(year, year > 9999 ? 5 : 4);
  *p++ = '-';
  digits(static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  digits(static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  digits(in_day / 3'600'000, 2);
  *p++ = ':';
  digits(in_day / 60'000 % 60, 2);
  *p++ = ':';
  digits(in_day / 1000 % 60, 2);
  *p++ = '.';
  digits(in_day % 1000, 3);
  *p++ = 'Z';
  return std::string(buf, p);
}

}  // namespace casmem
