//===- ProfileCommand.h - `moec profile ...` ---------------------*- C++
//-*-===//

#ifndef MOEC_TOOLS_MOEC_PROFILECOMMAND_H
#define MOEC_TOOLS_MOEC_PROFILECOMMAND_H

namespace moec {

/// `moec profile merge IN... -o OUT` and `moec profile show IN`; argv[0] is
/// "profile". Returns the exit status.
int runProfileCommand(int argc, char **argv);

} // namespace moec

#endif // MOEC_TOOLS_MOEC_PROFILECOMMAND_H
