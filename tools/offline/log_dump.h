// `casmem dump --log`: the records of log segments and snapshots, one line
// each (the former casmem-waldump).
#pragma once

#include <string>
#include <vector>

namespace casmem::offline {

// Prints every file (*.snap: a snapshot, else a segment) in turn; `hex`
// adds the bytes of each batch header and record. Returns the worst exit
// code: 0 every file readable to a clean end, 2 damage (a file stops
// before its data ends, or a bad header / checksum), 4 a file cannot be read.
int DumpLog(const std::vector<std::string>& files, bool hex);

}  // namespace casmem::offline
